//go:build !linux

package cluster

import (
	"os/exec"
	"syscall"
)

func sysProcAttr(detach bool) *syscall.SysProcAttr {
	if detach {
		return &syscall.SysProcAttr{Setsid: true}
	}
	return nil
}

func spawn(cmd *exec.Cmd, _ bool) error { return cmd.Start() }
