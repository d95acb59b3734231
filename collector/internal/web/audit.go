package web

import "net/http"

// Stubs until this file is written.
func (s *Server) handleAuditPage(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }
func (s *Server) handleAPIAudit(w http.ResponseWriter, r *http.Request)  { http.NotFound(w, r) }
