// Finding a trial's process again after the scheduler that started it is gone: its identity (host,
// boot, pid, start time) and whether that process still lives.
#pragma once

#include "normscale/study/trial_store.hpp"

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace normscale {

std::string this_boot_id();  // /proc/sys/kernel/random/boot_id ("" when unreadable)

// The start time of `pid` in clock ticks after boot (/proc/<pid>/stat field 22), from the text of that
// file; nullopt when it does not parse. With the pid it names one process for the whole boot: a pid
// the kernel hands out again gets a later start time.
std::optional<std::int64_t> parse_process_start(std::string_view stat);
// The same for a live process; nullopt when there is none (or it is a zombie: it has ended).
std::optional<std::int64_t> process_start(pid_t pid);

// The identity of a process started here (host, boot, pid, start time).
TrialProcess identify_process(pid_t pid);

// Whether `process` ran on this machine in this boot: only then can its pid be looked up here.
bool on_this_machine(const TrialProcess& process);
// Whether that very process still runs (same machine and boot, same pid and start time).
bool process_alive(const TrialProcess& process);

}  // namespace normscale
