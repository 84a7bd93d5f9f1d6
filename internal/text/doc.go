// Package text shows untrusted text (task keys, errors, the names a task
// or a worker chose) safely, for the docket command and the dashboard
// alike: Printable, and Block for text read as a block. It also holds the
// one reading of a strike's value as a person types it (StrikeValue),
// which the command and the dashboard share.
package text
