package cluster

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// sysProcAttr: a detached process gets its own session, so it outlives the
// caller and the terminal's Ctrl-C does not reach it; only `down` (by pid)
// stops it. Otherwise the process stays in the caller's process group (a
// Ctrl-C on `go test` reaches it) and gets SIGKILL from the kernel when the
// caller dies without stopping it (a test binary killed by -timeout, a panic).
func sysProcAttr(detach bool) *syscall.SysProcAttr {
	if detach {
		return &syscall.SysProcAttr{Setsid: true}
	}
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// The parent-death signal fires when the *thread* that forked the child
// exits, and the Go runtime may retire threads. Non-detached processes are
// therefore started from one goroutine locked to its thread for the life of
// the program.
var spawner struct {
	once sync.Once
	reqs chan spawnRequest
}

type spawnRequest struct {
	cmd  *exec.Cmd
	done chan error
}

func spawn(cmd *exec.Cmd, detach bool) error {
	if detach {
		return cmd.Start()
	}
	spawner.once.Do(func() {
		spawner.reqs = make(chan spawnRequest)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as the program
			for r := range spawner.reqs {
				r.done <- r.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	spawner.reqs <- spawnRequest{cmd, done}
	return <-done
}
