// The --where language and the aggregation math as pure functions, without
// a registry: precedence and canonical form, error positions, bounds, LIKE,
// hand-computed statistics and Student's t.
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "mstar/error.h"
#include "mstar/registry/query.h"

namespace mstar::testing {
namespace {

using namespace mstar::registry;

TEST(ResultsFilter, PrecedenceAndCanonicalForm) {
  EXPECT_EQ(Filter::parse("seed = 1 or seed = 2 and not status = 'done'").to_string(),
            "((seed = 1) or ((seed = 2) and not (status = 'done')))");
  EXPECT_EQ(Filter::parse("(seed = 1 or seed = 2) and status != 'x'").to_string(),
            "(((seed = 1) or (seed = 2)) and (status != 'x'))");
  EXPECT_EQ(Filter::parse("params.a.b NOT IN (1, 'x', true) AND name Not Like 'a%'").to_string(),
            "((params.a.b not in (1, 'x', true)) and (name not like 'a%'))");
  EXPECT_EQ(Filter::parse("metrics.train.loss@step=100 is not null").to_string(),
            "(metrics.train.loss@step=100 is not null)");
  EXPECT_EQ(Filter::parse("seed == 1 && !(seed <> 2) || seed >= -1.5e1").to_string(),
            "(((seed = 1) and not (seed != 2)) or (seed >= -15))");
  // A field that needs quoting keeps its quotes: the canonical text parses back (found by fuzz/query_fuzz).
  EXPECT_EQ(Filter::parse("`metrics.train.reward mean@max` > .5").to_string(),
            "(`metrics.train.reward mean@max` > 0.5)");
  EXPECT_EQ(Filter::parse(Filter::parse("`params.a b` = 1").to_string()).to_string(), "(`params.a b` = 1)");
  EXPECT_EQ(Filter::parse("name = 'it''s'").to_string(), "(name = 'it''s')");
  EXPECT_TRUE(Filter::parse("   ").empty());
  Filter f = Filter::parse("params.x = 1 and params.x > 0 and metrics.a.b@max < 2");
  ASSERT_EQ(f.fields().size(), 2u) << "fields are deduplicated";
  EXPECT_EQ(f.fields()[1].kind, FieldKind::Series);
  EXPECT_EQ(f.fields()[1].select, SeriesSelect::Max);
}

struct ErrorCase {
  const char* expr;
  size_t column;
  const char* message;
};

TEST(ResultsFilter, ErrorsPointAtTheColumn) {
  const ErrorCase cases[] = {
      {"params.train.lr >= ", 20, "expected a value after '>='"},
      {"params.train.lr >= and", 20, "expected a value after '>=', got 'and'"},
      {"seed = 1 and", 13, "expected a field"},
      {"(seed = 1", 10, "expected ')' to close the '(' at column 1"},
      {"seed = 1)", 9, "unbalanced ')'"},
      {"seed in 1, 2", 9, "expected '(' after 'in'"},
      {"seed in (1 2)", 12, "expected ',' or ')' in the 'in' list"},
      {"seed in ()", 10, "expected a value in the 'in' list"},
      {"seed is nul", 9, "expected 'null' or 'not null' after 'is'"},
      {"name like 5", 11, "expected a quoted pattern after 'like'"},
      {"seed = null", 8, "use 'is null'"},
      {"params.x @ 3", 10, "unexpected character '@'"},
      {"statuss = 'done'", 1, "did you mean 'status'"},
      {"seed = 1 and metrics.train = 1", 14, "metrics.NODE.KEY"},
      {"metrics.a.b@top > 1", 1, "unknown selector '@top'"},
      {"metrics.a.b@step=x > 1", 1, "@step= needs an integer"},
      {"params.lr@max > 1", 1, "apply to metrics only"},
      {"seed = 'abc", 8, "unterminated string"},
      {"seed = 1 seed = 2", 10, "missing 'and'/'or'"},
      {"seed ~ 1", 6, "unexpected character '~'"},
      {"seed not = 1", 10, "expected 'in' or 'like' after 'not'"},
      {"seed", 5, "expected a comparison (=, !=, <, <=, >, >=, in, like, is null) after 'seed'"},
      {"created > 'soon'", 11, "expected a date"},
      {"1.2.3 = seed", 4, "in a number"},
      {"()", 2, "empty parentheses"},
  };
  for (const ErrorCase& c : cases) {
    try {
      Filter::parse(c.expr);
      ADD_FAILURE() << "no error for: " << c.expr;
    } catch (const Error& e) {
      EXPECT_TRUE(e.is_bad_input()) << c.expr;
      const std::string msg = e.what();
      EXPECT_EQ(msg.rfind("--where: column " + std::to_string(c.column) + ": ", 0), 0u)
          << c.expr << "\n" << msg;
      EXPECT_NE(msg.find(c.message), std::string::npos) << c.expr << "\n" << msg;
      // Line 2 repeats the expression, line 3 has the caret under the column.
      std::istringstream lines(msg);
      std::string first, expr, caret;
      std::getline(lines, first);
      std::getline(lines, expr);
      std::getline(lines, caret);
      EXPECT_EQ(expr, "  " + std::string(c.expr)) << msg;
      EXPECT_EQ(caret, std::string(c.column + 1, ' ') + "^") << c.expr << "\n" << msg;
    }
  }
}

// 20,000 nested '(' once overflowed the stack of the recursive-descent
// parser (SIGSEGV). Nesting and length are bounded, with an error.
TEST(ResultsFilter, DeepNestingAndLongExpressionsAreRefused) {
  auto nested = [](size_t depth, const std::string& open, const std::string& close) {
    std::string e;
    for (size_t i = 0; i < depth; ++i) e += open;
    e += "seed = 1";
    for (size_t i = 0; i < depth; ++i) e += close;
    return e;
  };
  EXPECT_EQ(Filter::parse(nested(kMaxFilterNesting, "(", ")")).to_string(), "(seed = 1)");
  EXPECT_NO_THROW(Filter::parse(nested(kMaxFilterNesting, "not ", "")));
  for (const auto& [open, close] : {std::pair{"(", ")"}, std::pair{"not ", ""}, std::pair{"not (", ")"}}) {
    try {
      Filter::parse(nested(kMaxFilterNesting + 1, open, close));
      ADD_FAILURE() << "no error for " << kMaxFilterNesting + 1 << " levels of '" << open << "'";
    } catch (const Error& e) {
      EXPECT_TRUE(e.is_bad_input());
      EXPECT_NE(std::string(e.what()).find("nested deeper than 64 levels"), std::string::npos) << e.what();
    }
  }
  const std::string deep = nested(20000, "(", ")");
  try {
    Filter::parse(deep);
    FAIL() << "no error for a " << deep.size() << "-byte expression";
  } catch (const Error& e) {
    EXPECT_TRUE(e.is_bad_input());
    EXPECT_EQ(std::string(e.what()).rfind("--where: the expression is 40008 bytes long; at most 16384", 0), 0u)
        << e.what();
  }
}

TEST(ResultsFilter, OptionNameInErrors) {
  try {
    Filter::parse("seed >", "--filter");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("--filter: column 7: expected a value after '>'", 0), 0u) << e.what();
  }
}

TEST(ResultsFilter, LikeMatching) {
  EXPECT_TRUE(like_match("grpo-large", "grpo%"));
  EXPECT_TRUE(like_match("GRPO", "grpo"));
  EXPECT_TRUE(like_match("abc", "a_c"));
  EXPECT_TRUE(like_match("abc", "%"));
  EXPECT_TRUE(like_match("", "%"));
  EXPECT_TRUE(like_match("a%b", "a\\%b"));
  EXPECT_FALSE(like_match("axb", "a\\%b"));
  EXPECT_TRUE(like_match("reward/mean", "%/mean"));
  EXPECT_TRUE(like_match("aXbXc", "a%b%c"));
  EXPECT_FALSE(like_match("abc", "a_"));
  EXPECT_FALSE(like_match("ab", "abc%"));
}

// ------------------------------------------------------------ evaluation

TEST(ResultsStats, HandComputedValues) {
  const Stats s = describe(std::vector<double>{1, 2, 3, 4});
  EXPECT_EQ(s.count, 4u);
  EXPECT_DOUBLE_EQ(s.mean, 2.5);
  EXPECT_NEAR(s.std, std::sqrt(5.0 / 3.0), 1e-12);  // sum of squares 5, n - 1 = 3
  EXPECT_NEAR(s.ci95, 3.1824463 * std::sqrt(5.0 / 3.0) / 2.0, 1e-6);
  EXPECT_NEAR(s.ci95, 2.05426, 1e-5);
  EXPECT_DOUBLE_EQ(s.median, 2.5);
  EXPECT_DOUBLE_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.max, 4);

  // Three seeds {0.71, 0.72, 0.73}: std 0.01, ci95 = 4.3026527 * 0.01 / sqrt(3).
  const Stats t = describe(std::vector<double>{0.71, 0.72, 0.73});
  EXPECT_NEAR(t.std, 0.01, 1e-12);
  EXPECT_NEAR(t.ci95, 0.0248414, 1e-7);

  const Stats one = describe(std::vector<double>{5});
  EXPECT_EQ(one.count, 1u);
  EXPECT_TRUE(std::isnan(one.std));
  EXPECT_TRUE(std::isnan(one.ci95));
  const Stats none = describe(std::vector<Value>{Value(), Value(std::nan("")), Value(std::string("x"))});
  EXPECT_EQ(none.count, 0u);
  EXPECT_TRUE(std::isnan(none.mean));
}

TEST(ResultsStats, StudentT) {
  EXPECT_NEAR(t_quantile_975(1), 12.7062047, 1e-6);
  EXPECT_NEAR(t_quantile_975(2), 4.3026527, 1e-6);
  EXPECT_NEAR(t_quantile_975(9), 2.2621572, 1e-6);
  EXPECT_NEAR(t_quantile_975(30), 2.0422725, 1e-6);
  // Beyond the table (R: qt(0.975, df)).
  EXPECT_NEAR(t_quantile_975(31), 2.0395134, 1e-5);
  EXPECT_NEAR(t_quantile_975(40), 2.0210754, 1e-5);
  EXPECT_NEAR(t_quantile_975(60), 2.0002978, 1e-5);
  EXPECT_NEAR(t_quantile_975(120), 1.9799304, 1e-5);
  EXPECT_NEAR(t_quantile_975(100000), 1.959964, 1e-4);
  EXPECT_TRUE(std::isnan(t_quantile_975(0)));
}

TEST(ResultsStats, ParseAggs) {
  EXPECT_EQ(parse_aggs("mean, std,ci95,count"), (std::vector<Agg>{Agg::Mean, Agg::Std, Agg::Ci95, Agg::Count}));
  EXPECT_EQ(parse_aggs("ci,mean,mean"), (std::vector<Agg>{Agg::Ci95, Agg::Mean}));
  EXPECT_THROW(parse_aggs("mean,avg"), Error);
  EXPECT_THROW(parse_aggs(""), Error);
}

}  // namespace
}  // namespace mstar::testing
