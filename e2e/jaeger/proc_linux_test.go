//go:build jaegere2e

package jaeger

import (
	"os/exec"
	"syscall"
)

// killWithParent makes the kernel kill Jaeger if the test process dies
// (a go test timeout, a Ctrl-C) before its cleanup runs.
func killWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
