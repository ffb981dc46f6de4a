//! Helpers of the integration tests: the sample run rendered in each format.

#![allow(dead_code)]

pub mod sample;

use oci_certify_core::event::{Event, Sink};
use oci_certify_reports::{Format, HtmlSink, JsonSink, JunitSink, TapSink};

fn feed<S: Sink>(mut sink: S, events: &[Event]) -> S {
    for e in events {
        sink.handle(e).expect("writing to memory never fails");
    }
    sink
}

/// Renders `events` in `format`.
pub fn render_events(format: Format, events: &[Event]) -> String {
    let bytes = match format {
        Format::Tap => feed(TapSink::new(Vec::new()), events).into_inner(),
        Format::Json => feed(JsonSink::new(Vec::new()), events).into_inner(),
        Format::Junit => feed(JunitSink::new(Vec::new()), events).into_inner(),
        Format::Html => feed(HtmlSink::new(Vec::new()), events).into_inner(),
    };
    String::from_utf8(bytes).expect("reports are UTF-8")
}

/// Renders the sample run in `format`.
pub fn render(format: Format) -> String {
    render_events(format, &sample::events())
}
