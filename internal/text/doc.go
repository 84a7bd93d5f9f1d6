// Package text shows untrusted text (task keys, errors, the names a task
// or a worker chose) safely, for the docket command and the dashboard
// alike: Printable, and Block for text read as a block. It also holds what
// else the two show alike: the reading of a strike's value as a person
// types it (StrikeValue), JSON's <, > and & as written
// (UnescapeHTMLEscapes), a progress's share (Share), and a long string
// cut for a message or a table (Truncate).
package text
