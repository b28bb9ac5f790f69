# tap port library (vnet_port_tap)
