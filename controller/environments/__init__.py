"""Test environments: provisioners (``argocd_provisioner``) and, later, the service that
leases environments to runs and the sweeper that tears them down."""
