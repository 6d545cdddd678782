//! The systemd notify protocol (sd_notify(3)): READY, RELOADING, STOPPING, STATUS and the
//! watchdog. Every call is a no-op when the daemon is not started by systemd (no
//! `NOTIFY_SOCKET`), so the same binary runs anywhere.

use std::time::Duration;

use sd_notify::NotifyState;

/// Sends states to the service manager, if there is one. A failure is logged, never fatal:
/// systemd being unreachable must not take the daemon down.
fn send(states: &[NotifyState<'_>]) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!("cannot notify systemd: {e}");
    }
}

/// Start-up is complete: database open and migrated, listener bound, feeds scheduled.
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// A reload begins (`Type=notify-reload` also wants the monotonic time).
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

/// Shutdown begins.
pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

/// A one-line status for `systemctl status`.
pub fn status(status: &str) {
    send(&[NotifyState::Status(status)]);
}

/// The daemon is healthy: keep the watchdog from restarting it.
pub fn watchdog() {
    send(&[NotifyState::Watchdog]);
}

/// How often to ping the watchdog (half its timeout), if systemd asked for one.
pub fn watchdog_interval() -> Option<Duration> {
    std::env::var_os("NOTIFY_SOCKET")?;
    sd_notify::watchdog_enabled().map(|d| (d / 2).max(Duration::from_millis(50)))
}
