package main

import "syscall"

// childAttr makes a child process die with the driver, so an interrupted
// run leaves no redis-server or worker behind.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
