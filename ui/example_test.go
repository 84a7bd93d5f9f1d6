package ui_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/ui"
)

// The dashboard mounted under /admin/docket/ of an application's own mux:
// StripPrefix takes the prefix off, and the pages link relative to it.
func ExampleNew() {
	ctx := context.Background()
	d, err := sdk.Open(ctx, "memory://example-ui", sdk.WithName("orders"),
		sdk.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		panic(err)
	}
	defer d.Close()
	if _, err := d.AddByName(ctx, "send_invoice", []byte(`{"order":42}`), sdk.Key("invoice-42"), sdk.After(time.Hour)); err != nil {
		panic(err)
	}

	h, err := ui.New(d, ui.Options{ReadOnly: true})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/docket/", http.StripPrefix("/admin/docket", h))

	for _, path := range []string{"/admin/docket", "/admin/docket/", "/admin/docket/tasks?state=scheduled"} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		body := rec.Body.String()
		fmt.Println(path, rec.Code, rec.Header().Get("Location"),
			strings.Contains(body, "<title>"), strings.Contains(body, `href="task?key=invoice-42"`))
	}
	// Output:
	// /admin/docket 307 /admin/docket/ false false
	// /admin/docket/ 200  true false
	// /admin/docket/tasks?state=scheduled 200  true true
}
