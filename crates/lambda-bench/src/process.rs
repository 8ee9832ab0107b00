//! What Linux's /proc and /sys say about a running process and about this host.

use std::fs;
use std::path::Path;

/// On-CPU time in milliseconds of every thread of process `pid` so far: the sum of the first
/// field (time spent on the CPU, in nanoseconds) of each `/proc/<pid>/task/<tid>/schedstat`.
/// `None` when the process is gone or the files cannot be read.
pub fn cpu_ms(pid: u32) -> Option<f64> {
    cpu_ms_of_tasks(&Path::new("/proc").join(pid.to_string()).join("task"))
}

fn cpu_ms_of_tasks(tasks: &Path) -> Option<f64> {
    let mut total_ns: u64 = 0;
    for task in fs::read_dir(tasks).ok()? {
        let schedstat = fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        total_ns = total_ns.checked_add(on_cpu_ns(&schedstat)?)?;
    }
    Some(total_ns as f64 / 1e6)
}

/// The first field of a schedstat line: nanoseconds spent on the CPU.
fn on_cpu_ns(schedstat: &str) -> Option<u64> {
    schedstat.split_whitespace().next()?.parse().ok()
}

/// Peak resident memory (`VmHWM`, KiB) of process `pid`; `None` when the process is gone.
pub fn peak_kib(pid: u32) -> Option<u64> {
    let status =
        fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("status")).ok()?;
    vm_hwm_kib(&status)
}

/// The `VmHWM:` line of a /proc/<pid>/status text, in KiB.
fn vm_hwm_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The 1, 5 and 15 minute load averages (`/proc/loadavg`), as `"1.62 / 1.89 / 2.18"`.
pub fn load_average() -> String {
    let text = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    format_load(&text)
}

fn format_load(loadavg: &str) -> String {
    loadavg
        .split_whitespace()
        .take(3)
        .map(|x| match x.parse::<f64>() {
            Ok(v) => format!("{v:.2}"),
            Err(_) => "?".to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" / ")
}

/// This host as the report names it: `"<machine>, <n> cores"`, n the number of online CPUs
/// (`/sys/devices/system/cpu/online`), or the parallelism available to this process if that
/// file cannot be read.
pub fn host() -> String {
    let cores = fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|text| cpu_list_len(&text))
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .map_or_else(|| "?".to_owned(), |n| n.to_string());
    format!("{}, {cores} cores", std::env::consts::ARCH)
}

/// The number of CPUs in a kernel CPU list such as `"0-3,6,8-9"`.
fn cpu_list_len(list: &str) -> Option<usize> {
    let mut count = 0usize;
    for range in list.trim().split(',') {
        count += match range.split_once('-') {
            Some((first, last)) => {
                let (first, last): (usize, usize) = (first.parse().ok()?, last.parse().ok()?);
                last.checked_sub(first)? + 1
            }
            None => range.parse::<usize>().map(|_| 1).ok()?,
        };
    }
    Some(count)
}

/// The system's single-file CA bundle, if there is one (Debian's, Amazon Linux's, or macOS's
/// path).
pub fn ca_bundle() -> Option<&'static str> {
    [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/cert.pem",
    ]
    .into_iter()
    .find(|candidate| Path::new(candidate).is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedstat_first_field_is_the_on_cpu_time() {
        assert_eq!(on_cpu_ns("123456789 42 7\n"), Some(123_456_789));
        assert_eq!(on_cpu_ns(""), None);
        assert_eq!(on_cpu_ns("x 1 2"), None);
    }

    #[test]
    fn vm_hwm_is_read_from_its_line() {
        let status =
            "Name:\tbootstrap\nVmPeak:\t  9000 kB\nVmHWM:\t    4321 kB\nVmRSS:\t 4000 kB\n";
        assert_eq!(vm_hwm_kib(status), Some(4321));
        assert_eq!(vm_hwm_kib("Name:\tx\n"), None);
    }

    #[test]
    fn this_process_has_cpu_time_and_a_peak() {
        let pid = std::process::id();
        assert!(cpu_ms(pid).is_some_and(|ms| ms > 0.0));
        assert!(peak_kib(pid).is_some_and(|kib| kib > 0));
    }

    #[test]
    fn a_process_that_is_gone_has_no_figures() {
        // pid_max is at most 2^22 on Linux: this pid cannot exist.
        assert_eq!(cpu_ms(u32::MAX), None);
        assert_eq!(peak_kib(u32::MAX), None);
    }

    #[test]
    fn load_is_three_averages_with_two_decimals() {
        assert_eq!(
            format_load("1.626 0.5 2.00 1/234 5678\n"),
            "1.63 / 0.50 / 2.00"
        );
    }

    #[test]
    fn cpu_lists_count_ranges_and_singles() {
        assert_eq!(cpu_list_len("0-1\n"), Some(2));
        assert_eq!(cpu_list_len("0-3,6,8-9"), Some(7));
        assert_eq!(cpu_list_len("5"), Some(1));
        assert_eq!(cpu_list_len("3-1"), None);
        assert_eq!(cpu_list_len("a"), None);
    }
}
