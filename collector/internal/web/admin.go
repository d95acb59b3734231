package web

import "net/http"

// Stubs until this file is written.
func (s *Server) handleAdminPage(w http.ResponseWriter, r *http.Request)         { http.NotFound(w, r) }
func (s *Server) handleAdminUserCreate(w http.ResponseWriter, r *http.Request)   { http.NotFound(w, r) }
func (s *Server) handleAdminUserUpdate(w http.ResponseWriter, r *http.Request)   { http.NotFound(w, r) }
func (s *Server) handleAdminUserPassword(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }
func (s *Server) handleAdminTokenCreate(w http.ResponseWriter, r *http.Request)  { http.NotFound(w, r) }
func (s *Server) handleAdminTokenRevoke(w http.ResponseWriter, r *http.Request)  { http.NotFound(w, r) }
func (s *Server) handleAdminEnrollCreate(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }
func (s *Server) handleAdminEnrollRevoke(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }
func (s *Server) handleAdminAgentRevoke(w http.ResponseWriter, r *http.Request)  { http.NotFound(w, r) }
