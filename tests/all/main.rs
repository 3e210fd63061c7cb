//! shipgate end to end: the host, the bundled checks and hostile plugins
//! against the built-in mock server on 127.0.0.1. One module per concept.

mod support;

mod application;
mod audit;
mod canary;
mod drift;
mod every_finding;
mod faults;
mod hostile;
mod hostile_server;
mod probes;
mod record;
mod sandbox;
mod secrets;
mod snapshots;
mod streaming;
