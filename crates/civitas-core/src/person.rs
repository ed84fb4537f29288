//! Small closed vocabularies of the population register.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! vocabulary {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $wire:literal / $vi:literal / $en:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($wire => Some($name::$variant),)+ _ => None }
            }
            /// The label shown to people, in Vietnamese (`vi`) or English.
            pub fn label(self, lang: &str) -> &'static str {
                match (self, lang == "en") { $(($name::$variant, false) => $vi, ($name::$variant, true) => $en,)+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

vocabulary!(Sex { Male = "male" / "Nam" / "Male", Female = "female" / "Nữ" / "Female" });

vocabulary!(MaritalStatus {
    Single = "single" / "Chưa kết hôn" / "Single",
    Married = "married" / "Đã kết hôn" / "Married",
    Divorced = "divorced" / "Đã ly hôn" / "Divorced",
    Widowed = "widowed" / "Góa" / "Widowed",
});

vocabulary!(LifeStatus {
    Living = "living" / "Còn sống" / "Living",
    Deceased = "deceased" / "Đã chết" / "Deceased",
    Missing = "missing" / "Mất tích" / "Missing",
});

vocabulary!(
    /// Relation of a household member to the head of household (quan hệ với chủ hộ).
    Relation {
        Head = "head" / "Chủ hộ" / "Head of household",
        Spouse = "spouse" / "Vợ/chồng" / "Spouse",
        Child = "child" / "Con" / "Child",
        Parent = "parent" / "Cha/mẹ" / "Parent",
        Grandchild = "grandchild" / "Cháu" / "Grandchild",
        Sibling = "sibling" / "Anh/chị/em" / "Sibling",
        ChildInLaw = "child_in_law" / "Con dâu/con rể" / "Child-in-law",
        Other = "other" / "Khác" / "Other",
    }
);

/// The 54 ethnic groups, by their statistics-office code (01 Kinh ... 54 Rơ-măm).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ethnicity(u8);

const ETHNIC_GROUPS: [&str; 54] = [
    "Kinh",
    "Tày",
    "Thái",
    "Hoa",
    "Khơ-me",
    "Mường",
    "Nùng",
    "Hmông",
    "Dao",
    "Gia-rai",
    "Ngái",
    "Ê-đê",
    "Ba-na",
    "Xơ-đăng",
    "Sán Chay",
    "Cơ-ho",
    "Chăm",
    "Sán Dìu",
    "Hrê",
    "Mnông",
    "Ra-glai",
    "Xtiêng",
    "Bru-Vân Kiều",
    "Thổ",
    "Giáy",
    "Cơ-tu",
    "Gié-Triêng",
    "Mạ",
    "Khơ-mú",
    "Co",
    "Tà-ôi",
    "Chơ-ro",
    "Kháng",
    "Xinh-mun",
    "Hà Nhì",
    "Chu-ru",
    "Lào",
    "La Chí",
    "La Ha",
    "Phù Lá",
    "La Hủ",
    "Lự",
    "Lô Lô",
    "Chứt",
    "Mảng",
    "Pà Thẻn",
    "Co Lao",
    "Cống",
    "Bố Y",
    "Si La",
    "Pu Péo",
    "Brâu",
    "Ơ-đu",
    "Rơ-măm",
];

impl Ethnicity {
    pub const KINH: Ethnicity = Ethnicity(1);

    /// Parses a 2-digit code `01`..`54`.
    pub fn parse(code: &str) -> Option<Self> {
        if code.len() != 2 {
            return None;
        }
        let n: u8 = code.parse().ok()?;
        (1..=54).contains(&n).then_some(Ethnicity(n))
    }
    pub fn from_number(n: u8) -> Option<Self> {
        (1..=54).contains(&n).then_some(Ethnicity(n))
    }
    pub fn code(self) -> String {
        format!("{:02}", self.0)
    }
    pub fn name(self) -> &'static str {
        ETHNIC_GROUPS[usize::from(self.0 - 1)]
    }
}

impl Serialize for Ethnicity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.code())
    }
}
impl<'de> Deserialize<'de> for Ethnicity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ethnicity::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown ethnic group code {s:?} (01..54)")))
    }
}
impl utoipa::PartialSchema for Ethnicity {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(r"^\d{2}$"))
            .description(Some("Ethnic group code of the statistics office, 01 (Kinh) to 54 (Rơ-măm)"))
            .into()
    }
}
impl utoipa::ToSchema for Ethnicity {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ethnic_codes() {
        assert_eq!(Ethnicity::parse("01").map(Ethnicity::name), Some("Kinh"));
        assert_eq!(Ethnicity::parse("54").map(Ethnicity::name), Some("Rơ-măm"));
        assert_eq!(Ethnicity::parse("55"), None);
        assert_eq!(Ethnicity::parse("1"), None);
    }

    #[test]
    fn vocabularies_round_trip() {
        for r in Relation::ALL {
            assert_eq!(Relation::parse(r.as_str()), Some(*r));
        }
        assert_eq!(Sex::Female.label("vi"), "Nữ");
    }
}
