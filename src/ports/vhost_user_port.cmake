# vhost-user port library (vnet_port_vhost_user): dataplane::Port over the virtio-net device.
add_library(vnet_port_vhost_user STATIC ${CMAKE_CURRENT_LIST_DIR}/vhost_user_port.cc)
target_link_libraries(vnet_port_vhost_user PUBLIC vnet_device)
