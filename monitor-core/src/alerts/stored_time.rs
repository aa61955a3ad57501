//! Times in the alert state kept in the stats store: RFC 3339 text in UTC
//! with microseconds, like every other time in `stats.db`.

use std::time::SystemTime;

use serde::{Deserialize, Deserializer, Serializer};

use crate::timestamp::Timestamp;

pub(crate) fn serialize<S: Serializer>(
    time: &SystemTime,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&Timestamp(*time))
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<SystemTime, D::Error> {
    let text = String::deserialize(deserializer)?;
    Timestamp::parse(&text)
        .map(Timestamp::system_time)
        .ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 time: {text:?}")))
}

/// The same for an `Option<SystemTime>` (`null` for `None`).
pub(crate) mod option {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        time: &Option<SystemTime>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match time {
            Some(time) => serializer.collect_str(&Timestamp(*time)),
            None => serializer.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<SystemTime>, D::Error> {
        let text = Option::<String>::deserialize(deserializer)?;
        text.map(|text| {
            Timestamp::parse(&text)
                .map(Timestamp::system_time)
                .ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 time: {text:?}")))
        })
        .transpose()
    }
}
