//! Aligned text tables that fit 100 columns.
//!
//! Each column is as wide as its widest cell (or header); when the row is
//! wider than 100 characters the columns marked `shrink` (names, messages)
//! give up width, the widest first, and their cells are cut with `…`.
//! Control characters in a cell are escaped (`\n`, `\u{1b}`), so a cell is
//! always one line. Widths count characters.

use crate::out::{paint, Colour};

/// The width every table fits in.
pub(crate) const WIDTH: usize = 100;

/// Space between columns.
const GAP: &str = "  ";

/// How a column's cells sit in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Right,
}

/// One column: its header, alignment, and whether it may be cut.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Column {
    header: &'static str,
    align: Align,
    shrink: bool,
}

impl Column {
    /// A column kept whole (ids, times, numbers).
    pub(crate) fn fixed(header: &'static str, align: Align) -> Column {
        Column {
            header,
            align,
            shrink: false,
        }
    }

    /// A left-aligned column that is cut with `…` when the row is too wide.
    pub(crate) fn shrinking(header: &'static str) -> Column {
        Column {
            header,
            align: Align::Left,
            shrink: true,
        }
    }
}

/// One cell: its text and, optionally, a colour.
#[derive(Clone, Debug)]
pub(crate) struct Cell {
    text: String,
    colour: Option<Colour>,
}

impl Cell {
    pub(crate) fn coloured(text: impl Into<String>, colour: Option<Colour>) -> Cell {
        Cell {
            text: one_line(&text.into()),
            colour,
        }
    }
}

impl<T: Into<String>> From<T> for Cell {
    fn from(text: T) -> Cell {
        Cell::coloured(text, None)
    }
}

/// A table being filled.
pub(crate) struct Table {
    columns: Vec<Column>,
    rows: Vec<Vec<Cell>>,
}

impl Table {
    pub(crate) fn new(columns: Vec<Column>) -> Table {
        Table {
            columns,
            rows: Vec::new(),
        }
    }

    /// Adds a row (one cell per column).
    pub(crate) fn row(&mut self, cells: Vec<Cell>) {
        debug_assert_eq!(cells.len(), self.columns.len());
        self.rows.push(cells);
    }

    /// The header line, then one line per row; no line has trailing spaces
    /// or is longer than [`WIDTH`] characters (escape codes aside).
    pub(crate) fn render(&self, colour: bool) -> Vec<String> {
        let widths = self.widths();
        let mut lines = Vec::with_capacity(self.rows.len() + 1);
        let header: Vec<Cell> = self.columns.iter().map(|c| Cell::from(c.header)).collect();
        lines.push(self.line(&header, &widths, false));
        for row in &self.rows {
            lines.push(self.line(row, &widths, colour));
        }
        lines
    }

    fn widths(&self) -> Vec<usize> {
        let mut widths: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .map(|(index, column)| {
                self.rows
                    .iter()
                    .map(|row| chars(&row[index].text))
                    .chain([chars(column.header)])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let total =
            |widths: &[usize]| widths.iter().sum::<usize>() + GAP.len() * (widths.len() - 1);
        while total(&widths) > WIDTH {
            // The widest column that may shrink gives one character, down to
            // its header's width (and never below 4).
            let candidate = self
                .columns
                .iter()
                .enumerate()
                .filter(|(index, column)| {
                    column.shrink && widths[*index] > chars(column.header).max(4)
                })
                .max_by_key(|(index, _)| widths[*index])
                .map(|(index, _)| index);
            match candidate {
                Some(index) => widths[index] -= 1,
                None => break,
            }
        }
        widths
    }

    fn line(&self, cells: &[Cell], widths: &[usize], colour: bool) -> String {
        let mut line = String::new();
        let last = cells.len() - 1;
        for (index, (cell, column)) in cells.iter().zip(&self.columns).enumerate() {
            let text = cut(&cell.text, widths[index]);
            let pad = " ".repeat(widths[index] - chars(&text));
            let painted = paint(&text, cell.colour, colour);
            match column.align {
                Align::Left if index == last => line.push_str(&painted),
                Align::Left => {
                    line.push_str(&painted);
                    line.push_str(&pad);
                }
                Align::Right => {
                    line.push_str(&pad);
                    line.push_str(&painted);
                }
            }
            if index != last {
                line.push_str(GAP);
            }
        }
        line.truncate(line.trim_end().len());
        line
    }
}

fn chars(text: &str) -> usize {
    width(text)
}

/// The terminal columns `c` takes, as a terminal draws it (the Unicode
/// East Asian Width: 2 for wide characters and emoji such as the report's
/// 🟢 🟡 🔴, 0 for combining marks and control characters).
pub(crate) fn char_width(c: char) -> usize {
    unicode_width::UnicodeWidthChar::width(c).unwrap_or(0)
}

/// The terminal columns `text` takes (see [`char_width`]).
pub(crate) fn width(text: &str) -> usize {
    text.chars().map(char_width).sum()
}

/// The longest start of `text` that takes at most `columns` columns.
fn take_columns(text: &str, columns: usize) -> &str {
    let mut used = 0;
    for (at, c) in text.char_indices() {
        used += char_width(c);
        if used > columns {
            return &text[..at];
        }
    }
    text
}

/// `text` cut to `width` columns, the last one `…` when cut.
pub(crate) fn cut(text: &str, columns: usize) -> String {
    if width(text) <= columns {
        return text.to_owned();
    }
    let mut cut = take_columns(text, columns.saturating_sub(1)).to_owned();
    cut.push('…');
    cut
}

/// `text` with control characters escaped, so that it stays on one line.
pub(crate) fn one_line(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// `text` in lines of at most [`WIDTH`] characters, broken at spaces
/// (a word longer than a line is cut into pieces).
pub(crate) fn wrap(text: &str, first: &str, rest: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = first.to_owned();
    let mut empty = true;
    for word in text.split(' ') {
        let mut word = word.to_owned();
        loop {
            let used = width(&line);
            let needed = width(&word) + usize::from(!empty);
            if used + needed <= WIDTH {
                if !empty {
                    line.push(' ');
                }
                line.push_str(&word);
                empty = false;
                break;
            }
            if empty {
                // A word longer than a whole line: cut it.
                let room = WIDTH.saturating_sub(used).max(1);
                let mut head = take_columns(&word, room);
                if head.is_empty() {
                    // One character wider than the room left.
                    head = &word[..word.chars().next().map_or(0, char::len_utf8)];
                }
                line.push_str(head);
                word = word[head.len()..].to_owned();
            }
            lines.push(std::mem::replace(&mut line, rest.to_owned()));
            empty = true;
            if word.is_empty() {
                break;
            }
        }
    }
    if !empty || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// `text` cut into pieces of at most [`WIDTH`] characters with their
/// prefix, without looking for spaces (stack trace lines, whose paths
/// should stay whole words to copy).
pub(crate) fn hard_wrap(text: &str, first: &str, rest: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut left = &chars[..];
    let mut prefix = first;
    let mut lines = Vec::new();
    loop {
        let room = WIDTH.saturating_sub(prefix.chars().count()).max(1);
        let mut take = room.min(left.len());
        if take < left.len() {
            // Break after the last `/` or space in the second half of the
            // line, so that a `file.rs:581:40` location is never split.
            let half = room / 2;
            if let Some(at) = left[half..take].iter().rposition(|&c| c == '/' || c == ' ') {
                take = half + at + 1;
            }
        }
        lines.push(format!(
            "{prefix}{}",
            left[..take].iter().collect::<String>()
        ));
        left = &left[take..];
        if left.is_empty() {
            return lines;
        }
        prefix = rest;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: &[[&str; 3]]) -> Vec<String> {
        let mut table = Table::new(vec![
            Column::fixed("ID", Align::Left),
            Column::shrinking("NAME"),
            Column::fixed("MS", Align::Right),
        ]);
        for row in rows {
            table.row(row.iter().map(|text| Cell::from(*text)).collect());
        }
        table.render(false)
    }

    #[test]
    fn columns_align_and_numbers_sit_right() {
        assert_eq!(
            table(&[["a", "short", "1.5"], ["bb", "longer name", "12.25"]]),
            [
                "ID  NAME            MS",
                "a   short          1.5",
                "bb  longer name  12.25",
            ]
        );
    }

    #[test]
    fn a_long_cell_is_cut_with_an_ellipsis_to_fit_100_columns() {
        let long = "x".repeat(300);
        let lines = table(&[["id", &long, "1"]]);
        for line in &lines {
            assert_eq!(line.chars().count(), WIDTH, "{line:?}");
        }
        assert!(lines[1].ends_with("xxx…   1"), "{}", lines[1]);
    }

    #[test]
    fn the_widest_shrinking_column_gives_way_first() {
        let mut table = Table::new(vec![Column::shrinking("A"), Column::shrinking("B")]);
        table.row(vec![
            Cell::from("a".repeat(30)),
            Cell::from("b".repeat(120)),
        ]);
        let lines = table.render(false);
        assert_eq!(lines[1].chars().count(), WIDTH);
        assert!(
            lines[1].starts_with(&format!("{}  b", "a".repeat(30))),
            "{}",
            lines[1]
        );
    }

    #[test]
    fn a_word_longer_than_a_line_is_cut_into_pieces() {
        let word = "x".repeat(250);
        let lines = wrap(&word, "", "");
        let lengths: Vec<usize> = lines.iter().map(|l| l.chars().count()).collect();
        assert_eq!(lengths, [100, 100, 50]);
    }

    #[test]
    fn hard_wrapping_keeps_every_character() {
        let text = format!("  at {}", "/p".repeat(80));
        let lines = hard_wrap(&text, "", "    ");
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].chars().count(), 100);
        assert_eq!(format!("{}{}", lines[0], &lines[1][4..]), text);
        assert_eq!(hard_wrap("", "  ", "  "), ["  "]);
    }

    #[test]
    fn hard_wrapping_breaks_after_a_slash_not_inside_a_location() {
        let text = format!(
            "      at /rustc/{}/library/std/src/panicking.rs:581:40",
            "0123456789abcdef".repeat(5)
        );
        let lines = hard_wrap(&text, "  ", "      ");
        assert_eq!(lines.len(), 2);
        assert!(lines.iter().all(|line| line.chars().count() <= WIDTH));
        assert_eq!(lines[1], "      library/std/src/panicking.rs:581:40");
        assert_eq!(format!("{}{}", &lines[0][2..], &lines[1][6..]), text);
    }

    #[test]
    fn emoji_take_two_columns() {
        assert_eq!(width("🟢 ok"), 5);
        assert_eq!(width("⚪"), 2);
        assert_eq!(cut("🔴🔴🔴", 4), "🔴…");
    }

    #[test]
    fn control_characters_stay_on_one_line() {
        assert_eq!(one_line("a\nb\u{1b}[31m"), "a\\nb\\u{1b}[31m");
        let lines = table(&[["1", "two\nlines", "3"]]);
        assert_eq!(lines.len(), 2);
        assert!(lines[1].contains("two\\nlines"));
    }

    #[test]
    fn colour_codes_do_not_count_in_the_width() {
        let mut table = Table::new(vec![
            Column::fixed("S", Align::Left),
            Column::fixed("N", Align::Right),
        ]);
        table.row(vec![
            Cell::coloured("error", Some(Colour::Red)),
            Cell::from("1"),
        ]);
        table.row(vec![
            Cell::coloured("ok", Some(Colour::Green)),
            Cell::from("22"),
        ]);
        let lines = table.render(true);
        assert_eq!(lines[1], "\x1b[31merror\x1b[0m   1");
        assert_eq!(lines[2], "\x1b[32mok\x1b[0m     22");
    }
}
