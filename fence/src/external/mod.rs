//! External agents: cluster-glue `external/*` plugins and fence-agents
//! `fence_*` agents, run as child processes so that every device those
//! projects support works through ironbeat.
//!
//! ```text
//!   request   sans-I/O: which runs of the agent, in which order (command,
//!             then status until the state is read back), what exits mean
//!   params    parameters → a plugin's environment / an agent's stdin;
//!             secrets redacted from everything the agent prints
//!   output    parsers: gethosts / getconfignames word lists, fence-agents
//!             `list`, metadata XML parameter names, failure messages
//! ```
//!
//! The driver (`driver::external`, feature `io`) spawns the agent with a
//! clean environment in its own process group, pipes stdin/stdout/stderr with
//! size limits, and kills the group at the request's one deadline.
#![forbid(unsafe_code)]

pub mod output;
pub mod params;
pub mod request;

pub use params::{Param, Params};
pub use request::{
    query_answer, query_invocation, Answer, Device, Exit, Fence, Invocation, Kind, Next, Outcome,
    Query, Step,
};
