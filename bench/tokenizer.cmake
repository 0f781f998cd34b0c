# tokenizer_bench: mstar::text's encode throughput against Hugging Face
# `tokenizers` in the same run, one core (not a test; docs/tokenizer.md).
add_executable(tokenizer_bench ${CMAKE_CURRENT_LIST_DIR}/tokenizer_bench.cpp)
target_link_libraries(tokenizer_bench PRIVATE mstar::text)
target_compile_definitions(tokenizer_bench PRIVATE MSTAR_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
mstar_warnings(tokenizer_bench)
