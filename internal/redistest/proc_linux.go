package redistest

import "syscall"

// childAttr makes a redis-server die with the test binary that started it,
// so that a binary that ends without its cleanups (killed by go test's
// -timeout, interrupted, or a package whose TestMain does not call Main)
// leaves none behind.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
