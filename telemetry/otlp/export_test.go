package otlp

import "net"

// WithPrometheusListening tells the test the address the Prometheus
// endpoint listens on.
func WithPrometheusListening(f func(net.Addr)) Option {
	return func(c *config) { c.prometheusListening = f }
}
