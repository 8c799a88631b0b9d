//! The fence request inside an established session: which chassis commands
//! to send and when the request is done. Pure: told about responses and the
//! time, it says what to send next, when to wake up, or the result.
//!
//! ```text
//!  status:  Get Chassis Status
//!  on/off:  status; if not yet as asked: Chassis Control; poll status until SEEN; power_wait
//!  reboot:  status; if on: off, poll until Off SEEN, power_wait; then on, poll until On SEEN, power_wait
//!  cycle, reset, diag: Chassis Control; then one status read for the report
//! ```
//!
//! Off and reboot succeed only after Off is seen; polling stops at the
//! request's deadline with a timeout error naming the state last seen.

use std::time::{Duration, Instant};

use crate::ipmi::commands::{ChassisControl, ChassisStatus};
use crate::power::{Action, PowerState};
use crate::{Error, ErrorKind};

/// What the session should send next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Command {
    /// Get Chassis Status.
    Status,
    /// Chassis Control.
    Control(ChassisControl),
}

/// The machine's answer to "what now?".
#[derive(Debug)]
pub(super) enum Next {
    /// Send this command and report its response.
    Send(Command),
    /// Nothing to send before this instant.
    Sleep(Instant),
    /// The request is over.
    Done(Result<Report, Error>),
}

/// What the request saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Report {
    pub initial: Option<PowerState>,
    pub power: Option<PowerState>,
    pub command_sent: bool,
    pub off_seen: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Read the state before deciding.
    ReadInitial,
    /// Send a Chassis Control.
    Issue(ChassisControl),
    /// Read the state at `at` until `want` is seen.
    Poll { want: PowerState, at: Instant },
    /// Wait until `until` (power_wait), then go on.
    Settle { until: Instant },
    /// One status read for the report, then done.
    ReadFinal,
    /// Over.
    Finished,
}

/// The fence request machine.
#[derive(Debug)]
pub(super) struct FenceMachine {
    action: Action,
    poll_interval: Duration,
    power_wait: Duration,
    deadline: Instant,
    step: Step,
    /// A command is outstanding (the session waits for its response).
    waiting: Option<Command>,
    /// For reboot: whether the On half has started.
    powering_on: bool,
    report: Report,
}

impl FenceMachine {
    pub fn new(
        action: Action,
        poll_interval: Duration,
        power_wait: Duration,
        deadline: Instant,
    ) -> Self {
        let step = match action {
            Action::Status => Step::ReadFinal,
            Action::On | Action::Off | Action::Reboot => Step::ReadInitial,
            Action::Cycle => Step::Issue(ChassisControl::PowerCycle),
            Action::Reset => Step::Issue(ChassisControl::HardReset),
            Action::Diag => Step::Issue(ChassisControl::DiagnosticInterrupt),
        };
        FenceMachine {
            action,
            poll_interval,
            power_wait,
            deadline,
            step,
            waiting: None,
            powering_on: false,
            report: Report::default(),
        }
    }

    /// What to do now (call when no command is outstanding).
    pub fn next(&mut self, now: Instant) -> Next {
        if self.waiting.is_some() {
            // The session calls this only between responses; be safe anyway.
            return Next::Sleep(self.deadline);
        }
        let sends = matches!(
            self.step,
            Step::ReadInitial | Step::ReadFinal | Step::Issue(_)
        );
        if sends && now >= self.deadline {
            self.step = Step::Finished;
            return Next::Done(Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "{}: the request's deadline passed before it could finish (power last seen \
                     {}); raise the timeout or lower power_wait",
                    self.action,
                    self.report
                        .power
                        .map(|p| p.to_string())
                        .unwrap_or_else(|| "unknown".into())
                ),
            )));
        }
        match self.step {
            Step::ReadInitial | Step::ReadFinal => self.send(Command::Status),
            Step::Issue(c) => self.send(Command::Control(c)),
            Step::Poll { want, at } => {
                if now >= self.deadline {
                    return self.timed_out(want);
                }
                if now >= at {
                    self.send(Command::Status)
                } else {
                    Next::Sleep(at.min(self.deadline))
                }
            }
            Step::Settle { until } => {
                if now >= until {
                    self.after_settle(now)
                } else {
                    Next::Sleep(until)
                }
            }
            Step::Finished => Next::Done(Ok(self.report)),
        }
    }

    fn send(&mut self, c: Command) -> Next {
        self.waiting = Some(c);
        Next::Send(c)
    }

    fn timed_out(&mut self, want: PowerState) -> Next {
        self.step = Step::Finished;
        let last = self
            .report
            .power
            .map(|p| p.to_string())
            .unwrap_or_else(|| "unknown".into());
        Next::Done(Err(Error::new(
            ErrorKind::Timeout,
            format!(
                "{}: the BMC accepted the command but power was not seen {want} before the \
                 deadline (last seen {last}); the node must be treated as NOT fenced. Raise the \
                 timeout if this machine powers {want} slowly, or check its power controller",
                self.action
            ),
        )))
    }

    /// The outstanding Get Chassis Status answered.
    pub fn on_status(&mut self, now: Instant, status: &ChassisStatus) {
        self.waiting = None;
        let power = status.power();
        self.report.power = Some(power);
        if power == PowerState::Off {
            self.report.off_seen = true;
        }
        self.step = match self.step {
            Step::ReadInitial => {
                self.report.initial = Some(power);
                match (self.action, power) {
                    (Action::On, PowerState::On) | (Action::Off, PowerState::Off) => Step::Finished,
                    (Action::On, PowerState::Off) | (Action::Reboot, PowerState::Off) => {
                        self.powering_on = true;
                        Step::Issue(ChassisControl::PowerUp)
                    }
                    (Action::Off, PowerState::On) | (Action::Reboot, PowerState::On) => {
                        Step::Issue(ChassisControl::PowerDown)
                    }
                    // Only on, off and reboot read an initial state.
                    _ => Step::Finished,
                }
            }
            Step::Poll { want, .. } if power == want => Step::Settle {
                until: (now + self.power_wait).min(self.deadline.max(now)),
            },
            Step::Poll { want, .. } => Step::Poll {
                want,
                at: now + self.poll_interval,
            },
            Step::ReadFinal => Step::Finished,
            other => other,
        };
    }

    /// The outstanding Chassis Control succeeded.
    pub fn on_control_done(&mut self, now: Instant) {
        let Some(Command::Control(c)) = self.waiting.take() else {
            return;
        };
        self.report.command_sent = true;
        self.step = match c {
            ChassisControl::PowerDown => Step::Poll {
                want: PowerState::Off,
                at: now,
            },
            ChassisControl::PowerUp => Step::Poll {
                want: PowerState::On,
                at: now,
            },
            _ => Step::ReadFinal,
        };
    }

    fn after_settle(&mut self, now: Instant) -> Next {
        self.step = if self.action == Action::Reboot && !self.powering_on {
            self.powering_on = true;
            Step::Issue(ChassisControl::PowerUp)
        } else {
            Step::Finished
        };
        self.next(now)
    }

    /// What the request has seen so far.
    pub fn report(&self) -> Report {
        self.report
    }

    /// The action, for messages.
    pub fn action(&self) -> Action {
        self.action
    }

    /// The command outstanding, if any.
    pub fn waiting(&self) -> Option<Command> {
        self.waiting
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(on: bool) -> ChassisStatus {
        ChassisStatus {
            current_power_state: u8::from(on),
            last_power_event: 0,
            misc_chassis_state: 0,
            front_panel: None,
        }
    }

    fn run(action: Action, mut power: bool, lag: u32) -> (Vec<Command>, Result<Report, Error>) {
        let t0 = Instant::now();
        let mut now = t0;
        let mut m = FenceMachine::new(
            action,
            Duration::from_millis(100),
            Duration::from_millis(50),
            t0 + Duration::from_secs(5),
        );
        let mut sent = Vec::new();
        let mut pending_lag = 0;
        for _ in 0..1000 {
            match m.next(now) {
                Next::Send(c) => {
                    sent.push(c);
                    match c {
                        Command::Status => {
                            m.on_status(now, &status(power));
                            if pending_lag > 0 {
                                pending_lag -= 1;
                                if pending_lag == 0 {
                                    power = !power;
                                }
                            }
                        }
                        Command::Control(ChassisControl::PowerDown) => {
                            if lag == 0 {
                                power = false
                            } else if power {
                                pending_lag = lag
                            }
                            m.on_control_done(now)
                        }
                        Command::Control(ChassisControl::PowerUp) => {
                            if lag == 0 {
                                power = true
                            } else if !power {
                                pending_lag = lag
                            }
                            m.on_control_done(now)
                        }
                        Command::Control(_) => m.on_control_done(now),
                    }
                }
                Next::Sleep(t) => {
                    assert!(t > now);
                    now = t
                }
                Next::Done(r) => return (sent, r),
            }
        }
        panic!("machine did not finish");
    }

    #[test]
    fn off_requires_off_seen() {
        let (sent, r) = run(Action::Off, true, 3);
        let r = r.unwrap();
        assert!(r.off_seen && r.command_sent);
        assert_eq!(r.power, Some(PowerState::Off));
        assert_eq!(sent[0], Command::Status);
        assert_eq!(sent[1], Command::Control(ChassisControl::PowerDown));
        assert_eq!(sent.iter().filter(|c| **c == Command::Status).count(), 5);
        let (sent, r) = run(Action::Off, false, 0);
        assert_eq!(sent, vec![Command::Status]);
        assert!(!r.unwrap().command_sent);
    }

    #[test]
    fn reboot_is_off_verify_on() {
        let (sent, r) = run(Action::Reboot, true, 1);
        let r = r.unwrap();
        assert!(r.off_seen);
        assert_eq!(r.power, Some(PowerState::On));
        let controls: Vec<_> = sent.iter().filter(|c| **c != Command::Status).collect();
        assert_eq!(
            controls,
            vec![
                &Command::Control(ChassisControl::PowerDown),
                &Command::Control(ChassisControl::PowerUp)
            ]
        );
        let (sent, r) = run(Action::Reboot, false, 0);
        assert!(r.unwrap().off_seen);
        assert_eq!(sent[1], Command::Control(ChassisControl::PowerUp));
    }

    #[test]
    fn never_off_times_out() {
        let (_, r) = run(Action::Off, true, 1_000_000);
        let e = r.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Timeout);
        assert!(e.message().contains("NOT fenced"));
    }

    #[test]
    fn power_wait_cannot_outlive_the_deadline() {
        let t0 = Instant::now();
        let mut m = FenceMachine::new(
            Action::Reboot,
            Duration::from_millis(100),
            Duration::from_secs(60),
            t0 + Duration::from_secs(5),
        );
        assert!(matches!(m.next(t0), Next::Send(Command::Status)));
        m.on_status(t0, &status(true));
        assert!(matches!(
            m.next(t0),
            Next::Send(Command::Control(ChassisControl::PowerDown))
        ));
        m.on_control_done(t0);
        assert!(matches!(m.next(t0), Next::Send(Command::Status)));
        m.on_status(t0, &status(false));
        let Next::Sleep(until) = m.next(t0) else {
            panic!("expected the power_wait sleep")
        };
        assert_eq!(until, t0 + Duration::from_secs(5));
        let Next::Done(Err(e)) = m.next(until) else {
            panic!("expected a timeout")
        };
        assert_eq!(e.kind(), ErrorKind::Timeout);
    }

    #[test]
    fn one_shot_actions() {
        for (a, c) in [
            (Action::Cycle, ChassisControl::PowerCycle),
            (Action::Reset, ChassisControl::HardReset),
            (Action::Diag, ChassisControl::DiagnosticInterrupt),
        ] {
            let (sent, r) = run(a, true, 0);
            assert_eq!(sent, vec![Command::Control(c), Command::Status]);
            assert!(r.unwrap().command_sent);
        }
        let (sent, r) = run(Action::Status, false, 0);
        assert_eq!(sent, vec![Command::Status]);
        assert_eq!(r.unwrap().power, Some(PowerState::Off));
    }
}
