//! Types and rules of the product; no actix, no diesel.

pub mod agent;
pub mod attachment;
pub mod canned;
pub mod clock;
pub mod conversation;
pub mod hours;
pub mod ids;
pub mod message;
pub mod password;
pub mod reports;
pub mod signing;
pub mod text;
pub mod visitor;

pub use agent::{DisplayName, NewPassword, Role, Username, ValidationError};
pub use clock::Clock;
pub use conversation::{
    Assignment, AssignmentChange, Conversation, ConversationStatus, Strategy, Transition,
    TransitionError,
};
pub use ids::{AgentId, ConversationId, MessageId, RoomId, VisitorId};
pub use message::{ClientId, MessageBody, MessageError, Sender};
pub use visitor::Visitor;
