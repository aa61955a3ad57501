use monitor::monitored;

#[monitored(fields(a_field_name_that_goes_on_and_on_and_on_far_beyond_the_sixty_four_byte_cap = 1))]
fn job() {}

fn main() {}
