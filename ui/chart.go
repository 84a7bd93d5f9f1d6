package ui

import (
	"fmt"

	"github.com/docket-go/docket/internal/store"
)

// chart is the overview's bar chart of the last hour, drawn as SVG on the
// server: a bar per minute, the attempts that ended well (completed, or a
// perpetual run rescheduled) stacked under those that failed (failed for
// good, or to be retried).
type chart struct {
	Width, Height int // the viewBox
	Top, Bottom   int // the plot's vertical extent
	Max           int64
	Bars          []bar
	Ticks         []tick
	Counted       bool // any minute had a counter
}

type bar struct {
	X, W           int
	OKY, OKH       int
	BadY, BadH     int
	Label          string // the minute, for the tooltip and the table
	OK, Bad, Total int64
}

type tick struct {
	X     int
	Label string
}

const (
	chartWidth  = 720
	chartHeight = 180
	chartLeft   = 48
	chartTop    = 10
	chartBottom = 150
)

func newChart(minutes []store.MinuteStats) chart {
	c := chart{Width: chartWidth, Height: chartHeight, Top: chartTop, Bottom: chartBottom}
	if len(minutes) == 0 {
		return c
	}
	for _, m := range minutes {
		ok := m.Counts["completed"] + m.Counts["perpetual"]
		bad := m.Counts["failed"] + m.Counts["retry"]
		c.Max = max(c.Max, ok+bad)
		if len(m.Counts) > 0 {
			c.Counted = true
		}
	}
	scale := float64(chartBottom-chartTop) / float64(max(c.Max, 1))
	step := (chartWidth - chartLeft) / len(minutes)
	for i, m := range minutes {
		ok := m.Counts["completed"] + m.Counts["perpetual"]
		bad := m.Counts["failed"] + m.Counts["retry"]
		okH := int(float64(ok)*scale + 0.5)
		badH := int(float64(bad)*scale + 0.5)
		if ok > 0 && okH == 0 {
			okH = 1
		}
		if bad > 0 && badH == 0 {
			badH = 1
		}
		x := chartLeft + i*step
		b := bar{X: x + 1, W: max(step-2, 1), OK: ok, Bad: bad, Total: ok + bad, Label: m.Minute.UTC().Format("15:04")}
		b.OKY, b.OKH = chartBottom-okH, okH
		b.BadY, b.BadH = b.OKY-badH, badH
		c.Bars = append(c.Bars, b)
		if i%15 == 0 || i == len(minutes)-1 {
			c.Ticks = append(c.Ticks, tick{X: x + step/2, Label: b.Label})
		}
	}
	return c
}

// Describe is the chart in words, for those who cannot see it.
func (c chart) Describe() string {
	var ok, bad int64
	for _, b := range c.Bars {
		ok += b.OK
		bad += b.Bad
	}
	return fmt.Sprintf("Attempts ended per minute over the last hour: %d ended well, %d failed (%s), at most %d in a minute.",
		ok, bad, pct(bad, ok+bad), c.Max)
}
