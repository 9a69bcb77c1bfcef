//! Types and rules of the product; no actix, no diesel.

pub mod agent;
pub mod clock;
pub mod ids;
pub mod password;

pub use agent::{DisplayName, NewPassword, Role, Username, ValidationError};
pub use clock::Clock;
pub use ids::{AgentId, ConversationId, MessageId, VisitorId};
