//! Response bodies whose JSON must be field for field what dockerd 28 sends: names, order, and
//! which fields are omitted when empty (Go's `omitempty`) versus sent as `null`/`""`/`0`. Version
//! dependent shapes are produced by the caller (see the `legacy` helpers).

pub mod event;
pub mod image;
pub mod system;

pub(crate) fn is_none_or_empty_vec<T>(v: &Option<Vec<T>>) -> bool {
    v.as_ref().is_none_or(|v| v.is_empty())
}

pub(crate) fn is_none_or_empty_map<K, V>(v: &Option<std::collections::BTreeMap<K, V>>) -> bool {
    v.as_ref().is_none_or(|v| v.is_empty())
}

pub(crate) fn is_empty_str(s: &str) -> bool {
    s.is_empty()
}
