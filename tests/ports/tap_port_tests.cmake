# tap port tests
