// Package text shows untrusted text (task keys, errors, the names a task
// or a worker chose) safely, for the docket command and the dashboard
// alike: Printable.
package text
