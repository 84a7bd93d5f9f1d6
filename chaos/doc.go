// Command chaos is docket's fault-injection driver: a real redis-server
// (appendonly), ten worker processes and five producers, while the driver
// SIGKILLs workers and Redis, stalls Redis and cuts workers off from it at
// random moments; then it checks that nothing was lost, that no limit was
// exceeded, that no task ran twice at once, and that every workflow (order,
// mixed into the tasks) completed with its steps, children, durable sleep
// and signal as the workflow package promises. See chaos/README.md.
//
//	go run ./chaos -mode short   # about 65s plus the build, for CI
//	go run ./chaos -mode long    # about 20 minutes
package main
