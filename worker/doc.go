// Package worker executes a docket's tasks. A Worker claims due tasks in
// batches, runs each under a lease it renews, retries failures as the
// task's policies say, and hands work back when it stops. Any number of
// workers, in any number of processes, can serve one docket: a task runs at
// least once, and the tasks of a worker that dies are redelivered to the
// others when their lease lapses.
package worker
