# vhost-user port tests
