package cli

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1": true, "::1": true, "0.0.0.0": false, "::": false, "192.168.1.2": false} {
		assert.Equal(t, want, isLoopback(&net.TCPAddr{IP: net.ParseIP(addr), Port: 8080}), addr)
	}
}
