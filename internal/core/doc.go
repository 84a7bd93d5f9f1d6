// Package core holds the machinery that the public packages share: a
// docket's store, registry and settings (behind sdk.Docket), the state of a
// running attempt (behind sdk.Current), and the hooks the testsuite uses to
// watch a worker. Nothing here is part of the public API.
package core
