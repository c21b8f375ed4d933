"""HTTP routers, one module per audience: agency, resident, auditor, admin, and peers."""
