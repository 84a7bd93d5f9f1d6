// Command docket watches and manages the tasks of a docket: follow a task's
// progress, list what is scheduled, queued and running, list the workers,
// cancel, retry or run tasks now, signal workflows, strike and restore, serve
// the web dashboard (docket ui). Run "docket help" for
// its usage.
//
//	go install github.com/docket-go/docket/cmd/docket@latest
package main
