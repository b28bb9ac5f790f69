# vhost-user port library (vnet_port_vhost_user)
