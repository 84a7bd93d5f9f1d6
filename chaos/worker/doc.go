// Command worker is the worker process of the chaos driver (see
// chaos/README.md): it runs the chaos tasks until SIGTERM or SIGINT, then
// drains and exits 0. The driver SIGKILLs it at random moments, and an
// exiter task ends it with tasks.ExitCode on its first delivery.
//
// The docket goes through -url, which the driver points at a proxy it can
// cut; the tasks write their record through -record-url, straight to Redis:
// the outside world a task acts on, which a worker cut off from Redis still
// reaches, as a real one would. Each run is logged in the -runs file.
package main
