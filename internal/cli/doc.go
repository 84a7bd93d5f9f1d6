// Package cli is the docket command-line tool: the commands behind
// cmd/docket (watch, snapshot, show, workers, cancel, retry, run-now,
// signal, clear, strike, restore, strikes, ui), written against an
// io.Writer and an injectable environment so that tests run them as a user
// would.
//
// The tool talks to a docket through the sdk package only, and serves the
// dashboard of package ui. It finds the
// docket with --url (or DOCKET_URL) and --name (or DOCKET_NAME, else
// "docket"), and reports every error as one line on stderr that starts with
// "docket: ", exiting 2 for a usage error and 1 for any other.
package cli
