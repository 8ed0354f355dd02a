package server

import (
	"encoding/json"
	"net"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/nimbus-dev/nimbus/internal/lambda"
	"github.com/nimbus-dev/nimbus/internal/metrics"
	"github.com/nimbus-dev/nimbus/internal/substrate"
)

// internalHandler serves nimbus's own endpoints: /_nimbus/health,
// /_nimbus/reset and /metrics, plus the health and reset paths that other
// local AWS emulators expose, so test frameworks written for them work.
type internalHandler struct {
	srv     *Server
	metrics *metrics.Registry
}

func (h *internalHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/_nimbus/health", "/_localstack/health", "/_localstack/health/":
		h.health(w, r)
	case "/_nimbus/reset", "/moto-api/reset", "/_localstack/state/reset":
		h.reset(w, r)
	case "/metrics":
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		h.metrics.Write(w)
	default:
		if strings.HasPrefix(r.URL.Path, lambda.CodePathPrefix) && h.srv.lambda != nil {
			h.srv.lambda.CodeHandler().ServeHTTP(w, r)
			return
		}
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "no such nimbus endpoint: " + r.URL.Path})
	}
}

func (h *internalHandler) health(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"error": "use GET"})
		return
	}
	s := h.srv
	storeInfo := map[string]any{"status": "ok"}
	if st, err := s.store.Stats(r.Context()); err != nil {
		storeInfo["status"] = "error"
		storeInfo["error"] = err.Error()
	} else {
		storeInfo["backend"] = st.Backend
		storeInfo["location"] = st.Location
		storeInfo["size_bytes"] = st.SizeBytes
		storeInfo["schema_version"] = st.SchemaVersion
		storeInfo["revision"] = st.Revision
	}
	services := map[string]any{}
	for _, svc := range s.services {
		services[svc.Key()] = map[string]any{"status": "available", "operations": len(svc.Implemented())}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	status := http.StatusOK
	if storeInfo["status"] != "ok" {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, map[string]any{
		"status":         map[bool]string{true: "ok", false: "degraded"}[status == http.StatusOK],
		"version":        s.version,
		"uptime_seconds": time.Since(s.started).Seconds(),
		"listen":         s.cfg.Listen,
		"auth":           s.cfg.Auth,
		"account_id":     s.cfg.AccountID,
		"region":         s.cfg.Region,
		"store":          storeInfo,
		"drivers":        driversInfo(s.host.Info()),
		"services":       services,
		"go":             map[string]any{"version": runtime.Version(), "goroutines": runtime.NumGoroutine(), "heap_bytes": ms.HeapAlloc},
	})
}

func (h *internalHandler) reset(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"error": "use POST"})
		return
	}
	// Reset wipes everything and carries no credentials, so only this
	// machine may ask for it, whatever address nimbus listens on.
	if !fromLoopback(r) {
		writeJSON(w, http.StatusForbidden, map[string]any{"error": "reset is only accepted from a loopback address"})
		return
	}
	only := r.URL.Query().Get("service")
	reset, err := h.srv.Reset(r.Context(), only)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error(), "reset": reset})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"reset": reset})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// driversInfo is the substrate's Info in the health endpoint's key style.
func driversInfo(in substrate.Info) map[string]any {
	nets := []map[string]any{}
	for _, n := range in.Networks {
		nets = append(nets, map[string]any{"name": n.Name, "bridge": n.Bridge, "subnet": n.Subnet.String(), "gateway": n.Gateway.String()})
	}
	return map[string]any{
		"driver": in.Driver, "runtime": in.Runtime, "reason": in.Reason, "description": in.Description,
		"weak_isolation": in.WeakIsolation, "networking": in.Networking, "network_reason": in.NetworkReason,
		"networks": nets, "sandboxes": in.Sandboxes,
	}
}

func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
