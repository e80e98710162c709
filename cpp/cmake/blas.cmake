# Chooses the BLAS behind lamina's GEMM (LAMINA_BLAS) and defines lamina_blas, an
# interface target carrying the library and the compile definitions of the shim in
# src/kernels/cpu/gemm.cpp:
#   scipy-openblas  OpenBLAS from the scipy-openblas32 PyPI package (symbols prefixed scipy_)
#   system          a system CBLAS (OpenBLAS, BLIS, MKL) found by find_package(BLAS)
#   none            lamina's built-in blocked GEMM
#   auto            scipy-openblas when the package is importable, else none
add_library(lamina_blas INTERFACE)
set(LAMINA_BLAS_USED none)

function(_lamina_find_scipy_openblas out_dir)
  find_package(Python 3.9 QUIET COMPONENTS Interpreter)
  set(dir "")
  if(Python_Interpreter_FOUND)
    execute_process(COMMAND ${Python_EXECUTABLE} -c "import scipy_openblas32 as s; print(s.get_lib_dir())"
                    OUTPUT_VARIABLE dir OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc ERROR_QUIET)
    if(NOT rc EQUAL 0)
      set(dir "")
    endif()
  endif()
  set(${out_dir} "${dir}" PARENT_SCOPE)
endfunction()

if(LAMINA_BLAS STREQUAL "auto" OR LAMINA_BLAS STREQUAL "scipy-openblas")
  _lamina_find_scipy_openblas(_sob_lib)
  if(_sob_lib)
    find_package(OpenBLAS CONFIG REQUIRED PATHS "${_sob_lib}/cmake/openblas" NO_DEFAULT_PATH)
    target_link_libraries(lamina_blas INTERFACE OpenBLAS::OpenBLAS)
    target_compile_definitions(lamina_blas INTERFACE LAMINA_HAVE_BLAS=1 LAMINA_BLAS_PREFIX=scipy_
                                                     LAMINA_HAVE_OPENBLAS=1)
    set(LAMINA_BLAS_USED scipy-openblas)
    set(LAMINA_OPENBLAS_CMAKE_DIR "${_sob_lib}/cmake/openblas")
  elseif(LAMINA_BLAS STREQUAL "scipy-openblas")
    message(FATAL_ERROR "LAMINA_BLAS=scipy-openblas: `import scipy_openblas32` failed; pip install scipy-openblas32")
  endif()
elseif(LAMINA_BLAS STREQUAL "system")
  find_package(BLAS REQUIRED)
  find_path(LAMINA_CBLAS_INCLUDE cblas.h PATH_SUFFIXES openblas blis mkl REQUIRED)
  target_link_libraries(lamina_blas INTERFACE BLAS::BLAS)
  target_include_directories(lamina_blas INTERFACE ${LAMINA_CBLAS_INCLUDE})
  target_compile_definitions(lamina_blas INTERFACE LAMINA_HAVE_BLAS=1)
  set(LAMINA_BLAS_USED system)
endif()
message(STATUS "lamina: GEMM backend: ${LAMINA_BLAS_USED}")
install(TARGETS lamina_blas EXPORT laminaTargets)
