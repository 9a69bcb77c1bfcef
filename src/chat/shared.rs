//! What several nodes must share, behind small interfaces. The Desk decides;
//! these carry its decisions out. One node uses the implementations in
//! `fanout.rs` (this node's sockets) and `stored_assignments.rs` (a
//! compare-and-set on the conversation row); a cluster swaps in shared ones
//! without touching the rules. Presence is the Desk's `Roster`: its decisions
//! need it at once, so a shared one keeps that roster up to date from the
//! other nodes rather than being asked across the network.

use actix::Recipient;

use super::desk::Publish;
use super::messages::StoreLost;
use crate::domain::AssignmentChange;

/// Publishes a frame to the subscribers of an agent, of every agent, or of
/// a visitor (every tab), wherever their sockets are.
pub trait FanOut {
    fn publish(&mut self, p: Publish);
}

/// Stores ownership changes as compare-and-set, in the order given, never
/// dropping one: a change applies only if the row still has the `from`
/// owner. A change that lost is reported to `lost` with what the row holds.
pub trait Assignments: Send {
    fn write(&self, w: AssignmentChange);
    /// Where losses are reported (the Dispatcher, once it runs).
    fn report_to(&mut self, lost: Recipient<StoreLost>);
}
