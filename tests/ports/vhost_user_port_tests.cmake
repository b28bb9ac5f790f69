# vhost-user port tests
vnet_test(vhost_user_port_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/vhost_user_port_test.cc
  LIBS vnet_port_vhost_user LABELS "unit" TIMEOUT 120)
