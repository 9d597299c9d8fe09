package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process is one component process of a cluster.
type Process struct {
	// Name of the component: etcd, kube-apiserver, kube-controller-manager,
	// kube-scheduler, kwok.
	Name string `json:"name"`
	// Pid of the process.
	Pid int `json:"pid"`
	// StartTime is the process start time in clock ticks since boot (field 22
	// of /proc/<pid>/stat): with Pid it identifies the process, so a recycled
	// pid is never signalled.
	StartTime uint64 `json:"startTime"`
	// Port the component serves on (127.0.0.1); 0 for kwok, which serves none.
	Port int `json:"port,omitempty"`
	// Log is the file that receives the process's stdout and stderr.
	Log string `json:"log"`
	// Binary is the executable's path.
	Binary string `json:"binary"`
}

// proc is a started process. cmd is nil when the process was not started by
// this process (a cluster loaded from its state file).
type proc struct {
	Process
	cmd  *exec.Cmd
	done chan struct{} // closed once cmd.Wait has returned
	err  error         // cmd.Wait's result, valid after done
}

func startProcess(name, binary string, args, env []string, port int, logPath string, detach bool) (*proc, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own copy
	cmd := exec.Command(binary, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = sysProcAttr(detach)
	fmt.Fprintf(logFile, "### %s %s %s\n", time.Now().Format(time.RFC3339), binary, strings.Join(args, " "))
	if err := spawn(cmd, detach); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{
		Process: Process{Name: name, Pid: cmd.Process.Pid, Port: port, Log: logPath, Binary: binary},
		cmd:     cmd,
		done:    make(chan struct{}),
	}
	p.StartTime, _ = procStartTime(p.Pid)
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has exited (non-blocking).
func (p *proc) exited() bool {
	if p.cmd != nil {
		select {
		case <-p.done:
			return true
		default:
			return false
		}
	}
	return !alive(p.Pid, p.StartTime)
}

// waitExit waits up to d for the process to exit.
func (p *proc) waitExit(d time.Duration) bool {
	if p.cmd != nil {
		select {
		case <-p.done:
			return true
		case <-time.After(d):
			return false
		}
	}
	deadline := time.Now().Add(d)
	for {
		if !alive(p.Pid, p.StartTime) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *proc) signal(sig syscall.Signal) {
	if p.exited() {
		return
	}
	_ = syscall.Kill(p.Pid, sig)
}

// stop sends SIGTERM, waits up to grace, then SIGKILL and waits again. It
// returns an error if the process is still alive after all that.
func (p *proc) stop(grace time.Duration) error {
	p.signal(syscall.SIGTERM)
	if p.waitExit(grace) {
		return nil
	}
	p.signal(syscall.SIGKILL)
	if p.waitExit(10 * time.Second) {
		return nil
	}
	return fmt.Errorf("%s (pid %d) is still alive after SIGKILL", p.Name, p.Pid)
}

// stopAll stops the groups one after the other, the processes of a group
// concurrently.
func stopAll(groups [][]*proc, grace time.Duration) error {
	var errs []error
	for _, g := range groups {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, p := range g {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := p.stop(grace); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	}
	return errors.Join(errs...)
}

// alive reports whether pid is a live (not zombie) process with the given
// start time (0: any).
func alive(pid int, startTime uint64) bool {
	if pid <= 0 {
		return false
	}
	state, st, err := procStat(pid)
	if err != nil {
		return false
	}
	if state == "Z" || state == "X" || state == "x" {
		return false
	}
	return startTime == 0 || st == startTime
}

// ProcessAlive reports whether the process p (pid and start time) is still
// running. A zombie counts as dead; a pid since reused by another process
// counts as dead.
func ProcessAlive(p Process) bool { return alive(p.Pid, p.StartTime) }

func procStartTime(pid int) (uint64, error) {
	_, st, err := procStat(pid)
	return st, err
}

// procStat returns the state letter and start time of pid from /proc.
func procStat(pid int) (string, uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, err
	}
	// pid (comm) state ppid ... ; comm may contain spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return "", 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 20 {
		return "", 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	// fields[0] is field 3 (state); start time is field 22.
	st, err := strconv.ParseUint(fields[19], 10, 64)
	return fields[0], st, err
}

// freePorts returns n distinct free TCP ports on 127.0.0.1. They are held
// open until all are chosen, so they are distinct; another process can still
// take one before the component binds it (unlikely, and reported as a start
// failure).
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// portFree reports whether 127.0.0.1:port can be bound now.
func portFree(port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return err
	}
	return l.Close()
}

// tail returns the last n lines of a file, for error messages, leaving out
// the API server's gRPC dial chatter.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if !strings.Contains(l, "] [core] [Channel #") {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
