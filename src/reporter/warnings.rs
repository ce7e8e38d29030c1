//! Warnings as they come: `batchrun: warning: …` on stderr, above the bar if there is one.

use std::sync::Arc;

use crate::console::{Console, Stream};
use crate::events::{Event, Listener};

pub struct Warnings {
    console: Arc<Console>,
}

impl Warnings {
    pub fn new(console: Arc<Console>) -> Self {
        Warnings { console }
    }
}

impl Listener for Warnings {
    fn event(&mut self, event: &Event) {
        if let Event::Warning { message } = event {
            let _ = self.console.write(Stream::Stderr, format!("batchrun: warning: {message}\n").as_bytes());
        }
    }
}
