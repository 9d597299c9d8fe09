package main

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// spawn starts cmd so that the kernel kills it if this program dies without
// stopping it (SIGKILL on the parent's death). The parent-death signal fires
// when the thread that forked the child exits, so children are forked from
// one goroutine locked to its thread for the life of the program (as
// test/cluster does for the control plane).
func spawn(cmd *exec.Cmd) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	spawner.once.Do(func() {
		spawner.reqs = make(chan spawnRequest)
		go func() {
			runtime.LockOSThread() // never unlocked
			for r := range spawner.reqs {
				r.done <- r.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	spawner.reqs <- spawnRequest{cmd, done}
	return <-done
}

var spawner struct {
	once sync.Once
	reqs chan spawnRequest
}

type spawnRequest struct {
	cmd  *exec.Cmd
	done chan error
}
