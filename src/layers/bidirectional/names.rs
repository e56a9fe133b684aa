//! The names a [`Bidirectional`](super::Bidirectional) layer's weights carry:
//! `{direction}.{role}`, Keras's order (forward, then backward).

use std::sync::Mutex;

/// `{direction}.{role}` as the `&'static str` a [`Param`](crate::layers::Param) names itself with: a few names per
/// kind of wrapped layer, each made once and kept for the program's life.
pub(super) fn role_in(direction: &str, role: &str) -> &'static str {
    static ROLES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let name = format!("{direction}.{role}");
    let mut roles = ROLES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(known) = roles.iter().find(|r| **r == name) {
        return known;
    }
    let made: &'static str = Box::leak(name.into_boxed_str());
    roles.push(made);
    made
}
