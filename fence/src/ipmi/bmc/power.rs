//! The machine behind the BMC: a [`PowerBackend`] switches real (or
//! simulated) power; [`MemoryPower`] keeps the state in memory for tests and
//! embedded demos. The driver adds one that keeps the state in a file
//! (`driver::bmc::FilePower`), like the lab's `chassis-control.sh`.
//!
//! Chassis semantics that do not depend on the backend (the power cycle's off
//! interval, what a cycle of a powered-off chassis means) live in the
//! responder, not here: a backend only does what it is told.

use std::fmt;

use crate::power::PowerState;

/// What a BMC's chassis can do. Calls are synchronous and should be quick
/// (the responder runs them while answering a request).
pub trait PowerBackend {
    /// Reads the current power state.
    fn power(&mut self) -> Result<PowerState, BackendError>;

    /// Switches power on or off (idempotent).
    fn set_power(&mut self, state: PowerState) -> Result<(), BackendError>;

    /// Pulses the reset line. A chassis that is off stays off.
    fn hard_reset(&mut self) -> Result<(), BackendError>;

    /// Pulses a diagnostic interrupt (NMI). Unsupported unless overridden.
    fn diagnostic_interrupt(&mut self) -> Result<(), BackendError> {
        Err(BackendError::Unsupported)
    }

    /// Asks the operating system to shut down (ACPI soft off). By default
    /// the power simply goes off.
    fn soft_off(&mut self) -> Result<(), BackendError> {
        self.set_power(PowerState::Off)
    }
}

/// Why a backend could not do what it was asked. The BMC answers completion
/// code 0xCC (invalid data field, what ipmi_sim answers) for
/// [`BackendError::Unsupported`] and 0xFF (unspecified) for
/// [`BackendError::Failed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendError {
    /// This chassis cannot do that at all.
    Unsupported,
    /// The operation failed; the text says why (logged by the driver).
    Failed(String),
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackendError::Unsupported => f.write_str("not supported by this chassis"),
            BackendError::Failed(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for BackendError {}

/// One operation a backend carried out, as [`MemoryPower`] records them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerOperation {
    /// Power set on or off.
    Set(PowerState),
    /// Reset pulsed (state unchanged).
    HardReset,
    /// NMI pulsed.
    DiagnosticInterrupt,
    /// ACPI soft off (power goes off).
    SoftOff,
}

/// Power kept in memory; records every operation so tests can assert what
/// the "hardware" saw.
#[derive(Debug, Clone)]
pub struct MemoryPower {
    state: PowerState,
    operations: Vec<PowerOperation>,
    resets: u64,
}

impl MemoryPower {
    /// A chassis whose power is `initial`.
    pub fn new(initial: PowerState) -> Self {
        MemoryPower {
            state: initial,
            operations: Vec::new(),
            resets: 0,
        }
    }

    /// The current state (without recording an operation).
    pub fn state(&self) -> PowerState {
        self.state
    }

    /// Every operation so far, oldest first.
    pub fn operations(&self) -> &[PowerOperation] {
        &self.operations
    }

    /// How many hard resets were pulsed.
    pub fn resets(&self) -> u64 {
        self.resets
    }
}

impl PowerBackend for MemoryPower {
    fn power(&mut self) -> Result<PowerState, BackendError> {
        Ok(self.state)
    }

    fn set_power(&mut self, state: PowerState) -> Result<(), BackendError> {
        self.state = state;
        self.operations.push(PowerOperation::Set(state));
        Ok(())
    }

    fn hard_reset(&mut self) -> Result<(), BackendError> {
        self.resets += 1;
        self.operations.push(PowerOperation::HardReset);
        Ok(())
    }

    fn diagnostic_interrupt(&mut self) -> Result<(), BackendError> {
        self.operations.push(PowerOperation::DiagnosticInterrupt);
        Ok(())
    }

    fn soft_off(&mut self) -> Result<(), BackendError> {
        self.state = PowerState::Off;
        self.operations.push(PowerOperation::SoftOff);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_power_records_operations() {
        let mut p = MemoryPower::new(PowerState::On);
        p.set_power(PowerState::Off).unwrap();
        p.hard_reset().unwrap();
        assert_eq!(p.power().unwrap(), PowerState::Off);
        p.set_power(PowerState::On).unwrap();
        p.soft_off().unwrap();
        assert_eq!(p.state(), PowerState::Off);
        assert_eq!(p.resets(), 1);
        assert_eq!(
            p.operations(),
            &[
                PowerOperation::Set(PowerState::Off),
                PowerOperation::HardReset,
                PowerOperation::Set(PowerState::On),
                PowerOperation::SoftOff,
            ]
        );
    }
}
