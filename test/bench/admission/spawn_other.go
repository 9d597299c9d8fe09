//go:build !linux

package main

import "os/exec"

func spawn(cmd *exec.Cmd) error { return cmd.Start() }
