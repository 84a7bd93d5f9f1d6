// Package sdk is the client of a docket: open one with Open, declare tasks
// with NewTask, register them, add them (now, at a time, after a delay,
// under a key), replace and cancel them, and inspect executions and the
// whole docket with Snapshot. Inside a running task, Current gives its key,
// attempt number and timeout.
//
// Workers that execute tasks live in package worker; the in-process test
// environment with a fake clock lives in package testsuite.
package sdk
