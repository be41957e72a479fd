package mesh

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times (100 on every
// Linux this runs on).
const clockTicks = 100

// CPUSnapshot is CPU time used so far, in ticks, by each process group of
// interest and by the whole machine.
type CPUSnapshot struct {
	at time.Time
	// procs holds ticks by group and pid: a process that starts between
	// two snapshots counts whole; one that ends is left out (its ticks
	// cannot be read any more).
	procs map[string]map[int]uint64
	// waits holds, the same way, the nanoseconds the process's threads
	// spent runnable but waiting for a core (schedstat).
	waits map[string]map[int]uint64
	busy  uint64
	all   uint64
	// stall is the machine's CPU pressure so far: microseconds in which
	// some runnable task waited for a core (/proc/pressure/cpu "some";
	// 0 where the kernel has no PSI).
	stall uint64
}

func (s CPUSnapshot) add(group string, pid int) {
	if s.procs[group] == nil {
		s.procs[group] = map[int]uint64{}
		s.waits[group] = map[int]uint64{}
	}
	s.procs[group][pid] = procTicks(pid)
	s.waits[group][pid] = procWait(pid)
}

// TakeCPU reads /proc: the named pids (the rush processes and this one), and
// every redis-server and postgres process by command name.
func TakeCPU(pids map[string]int) CPUSnapshot {
	s := CPUSnapshot{at: time.Now(), procs: map[string]map[int]uint64{}, waits: map[string]map[int]uint64{}}
	for name, pid := range pids {
		s.add(name, pid)
	}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		comm, err := os.ReadFile(d + "/comm")
		if err != nil {
			continue
		}
		var group string
		switch strings.TrimSpace(string(comm)) {
		case "redis-server":
			group = "redis-server"
		case "postgres":
			group = "postgres"
		default:
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(d))
		s.add(group, pid)
	}
	if raw, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(raw), "\n")
		f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal
		for i := 1; i < len(f) && i <= 8; i++ {
			v, _ := strconv.ParseUint(f[i], 10, 64)
			s.all += v
			if i != 4 && i != 5 {
				s.busy += v
			}
		}
	}
	if raw, err := os.ReadFile("/proc/pressure/cpu"); err == nil {
		// "some avg10=.. avg60=.. avg300=.. total=<µs>"
		line, _, _ := strings.Cut(string(raw), "\n")
		if _, total, ok := strings.Cut(line, "total="); ok {
			s.stall, _ = strconv.ParseUint(strings.TrimSpace(total), 10, 64)
		}
	}
	return s
}

// procWait is the time pid's threads have spent waiting for a core, in
// nanoseconds: the second field of each /proc/<pid>/task/<tid>/schedstat
// (a thread that ended is left out).
func procWait(pid int) uint64 {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/[0-9]*/schedstat", pid))
	var ns uint64
	for _, t := range tasks {
		raw, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		if f := strings.Fields(string(raw)); len(f) >= 2 {
			v, _ := strconv.ParseUint(f[1], 10, 64)
			ns += v
		}
	}
	return ns
}

func procTicks(pid int) uint64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the parenthesised command: utime is 14th, stime 15th.
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	return u + st
}

// since is what a group's processes added to a counter between two
// snapshots: a process that started in between counts whole (a new
// Postgres backend: all of it is inside), one whose counter went back (a
// thread that ended) counts nothing.
func since(before, now map[int]uint64) uint64 {
	var d uint64
	for pid, v := range now {
		b, ok := before[pid]
		switch {
		case !ok:
			d += v
		case v >= b:
			d += v - b
		}
	}
	return d
}

// CPUUse is what a CPU account measured: cores used by each group, by the
// whole machine (Busy, of Cores), and by processes in no group (Others).
// Waiting is, by group, how many of its threads waited for a core on
// average: a full machine queues, and Busy alone does not show how deep.
// Stalled is the share of the time in which some task waited (the
// kernel's CPU pressure; 0 without PSI).
type CPUUse struct {
	Groups      map[string]float64
	Waiting     map[string]float64
	Busy, Cores float64
	Others      float64
	Stalled     float64
	WallSeconds float64
}

// Measure reads the cores each group used since s.
func Measure(s CPUSnapshot, pids map[string]int) CPUUse {
	now := TakeCPU(pids)
	wall := now.at.Sub(s.at).Seconds()
	u := CPUUse{Groups: map[string]float64{}, Waiting: map[string]float64{}, WallSeconds: wall}
	if wall <= 0 {
		return u
	}
	var known float64
	for k, m := range now.procs {
		c := float64(since(s.procs[k], m)) / clockTicks / wall
		known += c
		u.Groups[k] = c
		u.Waiting[k] = float64(since(s.waits[k], now.waits[k])) / 1e9 / wall
	}
	if now.stall >= s.stall {
		u.Stalled = float64(now.stall-s.stall) / 1e6 / wall
	}
	u.Cores = float64(now.all-s.all) / clockTicks / wall
	u.Busy = float64(now.busy-s.busy) / clockTicks / wall
	u.Others = max(0, u.Busy-known)
	return u
}

// String reads "CPU cores used: edge 0.45, ...; machine busy 1.93 of 2
// (others 0.10)".
func (u CPUUse) String() string {
	type kv struct {
		k string
		v float64
	}
	var list []kv
	for k, v := range u.Groups {
		list = append(list, kv{k, v})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].v > list[j].v })
	var parts []string
	for _, e := range list {
		parts = append(parts, fmt.Sprintf("%s %.2f", e.k, e.v))
	}
	out := fmt.Sprintf("CPU cores used: %s; machine busy %.2f of %.0f (others %.2f)", strings.Join(parts, ", "), u.Busy, u.Cores, u.Others)
	var waits []string
	for _, e := range list {
		if w := u.Waiting[e.k]; w >= 0.01 {
			waits = append(waits, fmt.Sprintf("%s %.2f", e.k, w))
		}
	}
	if len(waits) > 0 {
		out += "\n  threads waiting for a core, on average: " + strings.Join(waits, ", ")
		if u.Stalled > 0 {
			out += fmt.Sprintf("; some task waiting %.0f%% of the time (CPU pressure)", 100*u.Stalled)
		}
	}
	return out
}

// Pids are the rush processes' pids by name.
func (t *Topology) Pids() map[string]int {
	out := map[string]int{}
	for _, p := range t.procs {
		out[p.name] = p.cmd.Process.Pid
	}
	return out
}
